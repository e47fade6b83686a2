//! What a Python config file (executed by `config::python_file`) brings beyond settings
//! (the `python` feature): the server hooks it defines and the objects those hooks
//! receive (`hooks`), and Python `logging` set-up from `logconfig`,
//! `logconfig_json` and `logconfig_dict` (`logconf`). The master and workers reach this
//! through `crate::hooks`, which compiles to no-ops without the feature.

pub(crate) mod hooks;
pub(crate) mod logconf;
