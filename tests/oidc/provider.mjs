// An OpenID provider for the tests (panva's oidc-provider), Keycloak-shaped: realm_access.roles and groups.
// Usage: node provider.mjs PORT AUDIENCE [REDIRECT_URI POST_LOGOUT_URI]
// - script clients ('anne-scripts'…) get JWT access tokens for AUDIENCE (client credentials);
// - the web client 'kartenn-web' logs people in with the authorization code flow (PKCE required); its
//   login page is a plain form asking for a user name (no password: this is a test provider).
import Provider from 'oidc-provider';

const [port, audience, redirectUri, postLogoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
// Each script client stands for one person, with the claims Keycloak would put in their token.
const people = {
  'anne-scripts': { preferred_username: 'anne', groups: ['/iuem/editor'], realm_access: { roles: ['offline_access'] } },
  'olga-scripts': { preferred_username: 'olga', groups: ['/lille'], realm_access: { roles: [] } },
  'root-scripts': { preferred_username: 'root', groups: [], realm_access: { roles: ['kartenn-admin'] } },
  'late-scripts': { preferred_username: 'anne', groups: ['/iuem/editor'], realm_access: { roles: [] } },
};
// People who log in through the browser.
const accounts = {
  anne: { name: 'Anne Le Gall', email: 'anne@iuem.example', groups: ['/iuem/editor'], realm_access: { roles: [] } },
  olga: { name: 'Olga Martin', email: 'olga@lille.example', groups: ['/lille'], realm_access: { roles: [] } },
  root: { name: 'Root', email: 'root@sdi.example', groups: [], realm_access: { roles: ['kartenn-admin'] } },
};
const clients = Object.keys(people).map((id) => ({
  client_id: id, client_secret: 'secret', grant_types: ['client_credentials'], redirect_uris: [],
  response_types: [], token_endpoint_auth_method: 'client_secret_post',
}));
if (redirectUri) {
  clients.push({
    client_id: 'kartenn-web', client_secret: 'secret', grant_types: ['authorization_code'],
    response_types: ['code'], redirect_uris: [redirectUri], post_logout_redirect_uris: [postLogoutUri],
    token_endpoint_auth_method: 'client_secret_basic',
  });
}
const provider = new Provider(issuer, {
  clients,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, ...(accounts[id] || { groups: [], realm_access: { roles: [] } }) }),
  }),
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'groups', 'realm_access'], email: ['email'] },
  conformIdTokenClaims: false, // claims in the ID token, as Keycloak's default mappers do
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client.clientId === 'kartenn-web' ? undefined : audience),
      useGrantedResource: () => true,
      // 'late-scripts' gets tokens that expire at once, to test expiry.
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: 'api', audience: resource, accessTokenFormat: 'jwt',
        accessTokenTTL: client.clientId === 'late-scripts' ? 1 : 300,
      }),
    },
  },
  extraTokenClaims: (ctx, token) => people[token.clientId] || {},
});

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The login page: GET shows a form, POST logs in whoever is named and grants what the client asked.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = `<form method="post" action="/interaction/${match[1]}"><label>User <input name="login"></label>`
      + '<button type="submit">Log in</button></form>';
    return undefined;
  }
  const login = (await readForm(ctx.req)).get('login');
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: login }, consent: { grantId } },
    { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
  return undefined;
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
