-- An alert keeps the format it was written with and its arguments, so
-- that the console can show it in the operator's language.
ALTER TABLE alerts ADD COLUMN format TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN args TEXT NOT NULL DEFAULT '[]';
