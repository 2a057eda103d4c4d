-- A user's grants (read by users/get and every listing of users) come from this
-- index alone (an index-only scan), in the order they are listed: with
-- (user_id, workspace) only, each grant was one more heap page, and one user's
-- rows lie on different pages once the store is large (bench/scale.sh: 1M users,
-- 10M grants).
DROP INDEX grants_user_id;
CREATE INDEX grants_user_id ON grants (user_id, workspace, resource_type, resource_id) INCLUDE (permission);
