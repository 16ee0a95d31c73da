-- Users, roles and permissions. Passwords are stored as crypt(3) hashes only.

CREATE TABLE users (
    login               text PRIMARY KEY,
    name                text NOT NULL DEFAULT '',
    password_hash       text NOT NULL,
    -- Bumped on every change, so that API processes drop cached credentials at once.
    generation          bigint NOT NULL DEFAULT 1,
    created             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    id                  text PRIMARY KEY,
    display_name        text NOT NULL DEFAULT '',
    description         text,
    created             timestamptz NOT NULL DEFAULT now()
);
INSERT INTO roles (id, display_name, description)
    VALUES ('super-users', 'Super Users', 'Role indicates users with admin privileges');

CREATE TABLE user_roles (
    login               text NOT NULL REFERENCES users(login) ON DELETE CASCADE ON UPDATE CASCADE,
    role_id             text NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (login, role_id)
);

-- One row per subject and resource path; operations is a set of CREATE, READ, UPDATE,
-- DELETE and EXECUTE, inherited by every path below resource.
CREATE TABLE permissions (
    resource            text NOT NULL,
    subject_type        text NOT NULL CHECK (subject_type IN ('user', 'role')),
    subject             text NOT NULL,
    operations          text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (resource, subject_type, subject)
);
INSERT INTO permissions (resource, subject_type, subject, operations)
    VALUES ('/', 'role', 'super-users', '{CREATE,READ,UPDATE,DELETE,EXECUTE}');
