// An OpenID provider for the tests (panva's oidc-provider), issuing Keycloak-shaped JWT access tokens:
// realm_access.roles and groups. Usage: node provider.mjs PORT AUDIENCE
import Provider from 'oidc-provider';

const [port, audience] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
// Each script client stands for one person, with the claims Keycloak would put in their token.
const people = {
  'anne-scripts': { preferred_username: 'anne', groups: ['/iuem/editor'], realm_access: { roles: ['offline_access'] } },
  'olga-scripts': { preferred_username: 'olga', groups: ['/lille'], realm_access: { roles: [] } },
  'root-scripts': { preferred_username: 'root', groups: [], realm_access: { roles: ['kartenn-admin'] } },
  'late-scripts': { preferred_username: 'anne', groups: ['/iuem/editor'], realm_access: { roles: [] } },
};
const clients = Object.keys(people).map((id) => ({
  client_id: id, client_secret: 'secret', grant_types: ['client_credentials'], redirect_uris: [],
  response_types: [], token_endpoint_auth_method: 'client_secret_post',
}));
const provider = new Provider(issuer, {
  clients,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
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
provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
