//! The formatter: one canonical layout for `.casepol` files, keeping every comment.
