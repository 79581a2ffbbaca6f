//! Shared helpers for the system tests (started processes, temp data dirs).
