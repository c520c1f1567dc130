//! Tests of the media area.
