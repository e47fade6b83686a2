//! The only module allowed `unsafe`. BOOTSTRAP PLACEHOLDER.
