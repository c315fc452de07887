-- The name an operator's acts carry to the other party (an
-- acknowledgement's "by", a suspension's): chosen for the record, never
-- the login. Empty: the title of the operator's role.
ALTER TABLE operators ADD COLUMN record_name TEXT NOT NULL DEFAULT ''
