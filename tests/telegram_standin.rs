//! Tests of the telegram_standin area.
