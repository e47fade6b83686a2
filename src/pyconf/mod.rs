//! Python configuration (the `python` feature): executing Gunicorn-style config files
//! in the master's embedded interpreter (`exec`), the server hooks they define and the
//! objects those hooks receive (`hooks`), and Python `logging` set-up from `logconfig`,
//! `logconfig_json` and `logconfig_dict` (`logconf`). The master and workers reach this
//! through `crate::hooks`, which compiles to no-ops without the feature.

pub(crate) mod exec;
pub(crate) mod hooks;
pub(crate) mod logconf;
