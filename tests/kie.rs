//! Tests of the kie area.
