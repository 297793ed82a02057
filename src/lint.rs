//! Lints: warnings about policies that check but are probably not what the author meant.
