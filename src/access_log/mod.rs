//! The access log: Gunicorn's `--access-logformat`, compiled once into segments and
//! rendered per request into a reused buffer.
//!
//! BOOTSTRAP PLACEHOLDER: the engine lands in its own change.
