"""Settings (``KARTENN_*`` environment variables override ``kartenn.toml``) and the data-directory layout."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_FILE = "kartenn.toml"


class Settings(BaseSettings):
    """Everything configurable. ``Settings.load(data_dir)`` reads the data directory's kartenn.toml first."""

    model_config = SettingsConfigDict(env_prefix="KARTENN_", extra="ignore")

    data_dir: Path = Path("site")
    database_url: str | None = None  # postgresql://… switches catalogue and features to PostGIS
    base_url: str | None = None  # public URL, when behind a proxy
    upload_max_bytes: int = 2 * 1024**3
    chunk_upload_threshold: int = 100 * 1024**2
    archive_max_bytes: int = 8 * 1024**3  # total uncompressed size of an archive
    archive_max_ratio: int = 200  # uncompressed / compressed
    archive_max_members: int = 10_000
    ingest_batch_size: int = 20_000
    raster_max_bytes: int = 4 * 1024**3  # a raster's declared width × height × bands × bytes per sample
    raster_max_bands: int = 256
    ingest_max_features: int = 50_000_000  # features of one layer, declared or read
    job_workers: int = 2  # jobs run at once, each in its own process
    job_user_workers: int = 1  # jobs of one user run at once; the others wait their turn
    job_max_seconds: int = 3600  # wall-clock time of one job
    job_max_memory_mb: int = 4096  # address space of a job's process
    job_max_disk_mb: int = 16384  # what a job writes in the staging area, and its largest file
    items_max_limit: int = 10_000
    oidc_issuer: str | None = None  # e.g. https://sso.example.org/realms/sdi: its access tokens are accepted
    oidc_audience: str = "kartenn"  # the aud those tokens must carry
    oidc_client_id: str | None = None  # set with the secret: "log in with" the provider in the browser
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_groups_claim: str = "groups"  # Keycloak groups /ORG or /ORG/ROLE
    oidc_group_prefix: str = ""  # e.g. "/sdi" when the groups are /sdi/ORG/ROLE
    oidc_admin_role: str = "kartenn-admin"  # realm or client role that makes a platform administrator
    oidc_role_map: dict[str, str] = Field(default_factory=dict)  # realm/client role → "admin", "ORG", "ORG/ROLE"
    session_hours: int = 12  # a browser session's longest life
    session_idle_minutes: int = 120  # ... and how long it lasts unused
    cookie_secure: bool | None = None  # None: Secure when the site is served over https
    login_rate_limit: int = 20  # failed logins from one address in 15 minutes before a 429
    login_account_limit: int = 5  # ... and for one account from one address (the owner elsewhere still logs in)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed ("10.0.0.5,10.1.0.0/16", "*"); none by default
    forwarded_allow_ips: str | None = None
    signup: bool = True  # people may ask for an account; an administrator approves it
    filter_max_bytes: int = 65_536  # a filter's text (CQL2, JSON, FES/OGC Filter XML)
    filter_max_terms: int = 1_000  # its conditions and the values of its IN lists
    filter_max_depth: int = 20  # nested AND/OR/NOT (a run of the same one counts once); SQLite's parser takes ~30
    wfs_max_features: int = 1_000_000  # a GetFeature's cap; larger counts are cut to it
    map_max_size: int = 4096  # largest WIDTH or HEIGHT of a rendered map, in pixels
    render_timeout: float = 30.0  # seconds a map or tile may take to draw before the request is refused (503)
    style_max_bytes: int = 64 * 1024  # a style document given by a user (SLD_BODY, the styles API)
    style_max_rules: int = 200  # rules of one such style
    style_max_filter_nodes: int = 2000  # operators, listed values and LIKE wildcards of all its filters
    style_max_filter_depth: int = 16  # how deep its filters nest
    map_pixel_tolerance: int = 4  # how near a click must be to a feature for GetFeatureInfo, in pixels
    wcs_max_bytes: int = 512 * 1024 * 1024  # uncompressed bytes one WCS GetCoverage may cut out
    time_nearest: bool = False  # a TIME between the steps of a raster time stack draws the nearest step
    tile_cache: bool = True  # keep rendered and vector tiles under data_dir/cache/tiles
    former_paths: bool = False  # also answer a migrated GeoServer's and GeoNetwork's paths (web/former_paths.py)
    tile_cache_max_mb: int = 2048  # the cache's size cap; the oldest tiles go first
    title: str = "Kartenn"
    publisher_name: str | None = None  # who publishes datasets that no organisation owns (their records' contact)
    publisher_email: str | None = None
    publisher_url: str | None = None
    basemap_url: str | None = None  # XYZ tiles (OSM, IGN…) under the viewer's layers; offline Natural Earth if unset
    basemap_attribution: str = ""  # shown on the map with basemap_url, e.g. "© OpenStreetMap contributors"
    glyphs_url: str | None = None  # MapLibre styles' fonts ({fontstack}/{range}.pbf); MapLibre's demo server if unset
    # Who may read /metrics without logging in as an administrator: addresses or networks, comma-separated
    metrics_allow: str = "127.0.0.1/32,::1/128"
    log_format: Literal["text", "json"] = "text"  # json: one object per line (time, level, logger, message…)
    shutdown_timeout: int = 30  # seconds requests in flight may take to finish after SIGTERM
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path | str, **overrides: Any) -> Settings:
        data_dir = Path(data_dir).resolve()
        values: dict[str, Any] = {}
        conf = data_dir / CONFIG_FILE
        if conf.exists():
            values = tomllib.loads(conf.read_text(encoding="utf-8"))
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["data_dir"] = data_dir
        settings = cls(**values)
        # Environment wins over the file for the keys it sets (pydantic-settings gives init args priority).
        env = cls()
        for name in env.model_fields_set:
            if name != "data_dir" and name not in overrides:
                setattr(settings, name, getattr(env, name))
        return settings

    @property
    def catalog_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'catalog.sqlite'}"

    @property
    def uses_postgis(self) -> bool:
        return bool(self.database_url) and self.database_url.startswith("postgres")

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
