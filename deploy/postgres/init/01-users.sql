-- The host application's users table, as CrewPlatform reads it. In production it belongs to the host
-- application; the tests, scripts/run-local.sh and docker-compose create it only when it is absent.
CREATE TABLE IF NOT EXISTS users (
    uid     varchar(255) PRIMARY KEY,
    context text NULL,
    goal    text NULL
);
