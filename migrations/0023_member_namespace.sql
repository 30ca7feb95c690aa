-- 0023_member_namespace.sql -- where a dispatched job's objects are in its member cluster:
-- the namespace dispatch put them in (the cluster's jobNamespace template applied to the
-- job's namespace, as it was at dispatch). Set with the Dispatched transition, cleared on a
-- requeue; NULL for jobs dispatched before this column existed (readers fall back to the
-- template).
ALTER TABLE jobs ADD COLUMN member_namespace text;
