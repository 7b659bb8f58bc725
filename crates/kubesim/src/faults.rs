//! Placeholder: filled in by the control-plane work.
