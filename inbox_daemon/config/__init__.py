"""The TOML configuration, loaded once at start-up into frozen, validated models.

- `schema.py`, `sources.py`: the models, one per table;
- `loading.py`: file -> models, every problem named by its key (`sources[1].port: …`);
- `paths.py`: field types resolving paths against the config file's folder;
- `secrets.py`: passwords read when a command that connects needs them;
- `pending.py`: keys accepted but not acted on yet.
"""

from inbox_daemon.config.loading import config_from_dict, load_config
from inbox_daemon.config.pending import NOT_ACTED_ON, not_acted_on
from inbox_daemon.config.schema import (
    AcknowledgementsConfig,
    CalendarConfig,
    Config,
    DatabaseConfig,
    PecConfig,
    PoleFormatConfig,
    PolesConfig,
    ProcessingConfig,
    RoutingRule,
    RulesConfig,
    StorageConfig,
)
from inbox_daemon.config.secrets import SecretRef, resolve_secrets, secret_problems
from inbox_daemon.config.sources import (
    LOOPBACK_HOSTS,
    Channel,
    FolderSource,
    ImapSource,
    SmtpRelay,
    SmtpSource,
    Source,
    SourceBase,
    TlsMode,
    WebSource,
)

__all__ = [
    "LOOPBACK_HOSTS", "NOT_ACTED_ON", "AcknowledgementsConfig", "CalendarConfig", "Channel",
    "Config", "DatabaseConfig", "FolderSource", "ImapSource", "PecConfig", "PoleFormatConfig",
    "PolesConfig", "ProcessingConfig", "RoutingRule", "RulesConfig", "SecretRef", "SmtpRelay",
    "SmtpSource", "Source", "SourceBase", "StorageConfig", "TlsMode", "WebSource",
    "config_from_dict", "load_config", "not_acted_on", "resolve_secrets", "secret_problems",
]  # fmt: skip
