-- A user's grants (read by users/get and every listing of users) come from this
-- index alone, in the order they are listed: with (user_id, workspace) only, each
-- grant was one more search of the table, whose rows of one user lie far apart
-- once the store is large (bench/scale.sh: 1M users, 10M grants).
DROP INDEX grants_user_id;
CREATE INDEX grants_user_id ON grants (user_id, workspace, resource_type, resource_id, permission);

-- Counting the admins (at start, and before an admin is demoted or deleted) reads
-- only the admins, not every user.
CREATE INDEX users_admins ON users (id) WHERE is_admin;
