-- What an answer was, kept with it so a reload shows what the live answer showed: the
-- provider that wrote it ("extractive": quoted sentences, no language model), whether it
-- answered (false: the documents did not seem to answer, and the text says so) and the
-- citations the check found unsupported. NULL for questions, for answers stored before this
-- migration, and for interrupted answers (never finished, so never judged).
ALTER TABLE messages
    ADD COLUMN provider text,
    ADD COLUMN answered boolean,
    ADD COLUMN unsupported_citations jsonb;
