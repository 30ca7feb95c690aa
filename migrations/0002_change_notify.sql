-- 0002_change_notify.sql -- tell listeners which jobs changed, once per statement.
-- The payload lists the changed job ids ("12,13,40"); when they would not fit in a
-- NOTIFY payload it is empty, meaning "any job may have changed".
CREATE FUNCTION notify_jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids text;
BEGIN
    SELECT string_agg(id::text, ',') INTO ids FROM new_rows;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF length(ids) > 7000 THEN
        ids := '';
    END IF;
    PERFORM pg_notify('fedsched_changes', ids);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_jobs_changed();
