//! Tests of the tbank area.
