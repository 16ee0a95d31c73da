-- "zoo" and "zoo/" are served at the same path, so they are the same relative_url for the
-- uniqueness check: the index ignores trailing slashes. Keeps the index name, which the
-- API's error mapping looks for.
DROP INDEX distributors_relative_url;
CREATE UNIQUE INDEX distributors_relative_url
    ON distributors ((rtrim(config->>'relative_url', '/')))
    WHERE config ? 'relative_url';
