//! HTTP/1 request validation with Gunicorn 27's rules and limits.

pub mod error;
pub mod head;
pub mod chunked;
pub mod proxy;
pub mod gate;

#[cfg(test)]
mod tests;
