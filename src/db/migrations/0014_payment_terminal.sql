-- Which bank a payment was made at (issue 15): a fingerprint of T-Bank's base
-- URL and terminal key (`TbankClient::terminal_tag`), written before Init. Only
-- a client with the same tag polls, confirms or cancels the payment, so a
-- stand-in never confirms a payment of the real bank (nor the other way round)
-- when an operator switches a database between them. NULL: made before this
-- column existed, or Init not called yet.
ALTER TABLE payments ADD COLUMN terminal TEXT;
