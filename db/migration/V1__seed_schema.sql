-- V1: the user's original schema, exactly as their design document gives it.
-- Later migrations build on it; this file is never edited.
-- ~/automation/schema.sql

CREATE TABLE vm_configs (
    id SERIAL PRIMARY KEY,
    vm_name VARCHAR(255) UNIQUE NOT NULL,
    environment VARCHAR(50) NOT NULL,  -- production, staging, dev
    enabled BOOLEAN DEFAULT true,

    -- VM Resources
    cpus INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    disk_gb INTEGER NOT NULL,

    -- Network
    ip_address INET NOT NULL,
    gateway INET,
    dns_servers INET[],

    -- VoIP Software Versions
    opensips_version VARCHAR(50),
    asterisk_version VARCHAR(50),
    rtpengine_version VARCHAR(50),

    -- Service Configuration
    opensips_config JSONB,
    asterisk_config JSONB,
    rtpengine_config JSONB,

    -- Metadata
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW(),
    created_by VARCHAR(100),
    notes TEXT
);

CREATE TABLE ansible_groups (
    id SERIAL PRIMARY KEY,
    group_name VARCHAR(255) UNIQUE NOT NULL,
    description TEXT,
    group_vars JSONB  -- Store group variables as JSON
);

CREATE TABLE vm_group_membership (
    vm_id INTEGER REFERENCES vm_configs(id) ON DELETE CASCADE,
    group_id INTEGER REFERENCES ansible_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (vm_id, group_id)
);

-- Audit log
CREATE TABLE vm_config_audit (
    id SERIAL PRIMARY KEY,
    vm_id INTEGER REFERENCES vm_configs(id),
    action VARCHAR(50),  -- INSERT, UPDATE, DELETE
    old_values JSONB,
    new_values JSONB,
    changed_by VARCHAR(100),
    changed_at TIMESTAMP DEFAULT NOW()
);

-- Trigger for audit log
CREATE OR REPLACE FUNCTION audit_vm_config_changes()
RETURNS TRIGGER AS $$
BEGIN
    IF (TG_OP = 'UPDATE') THEN
        INSERT INTO vm_config_audit (vm_id, action, old_values, new_values, changed_by)
        VALUES (NEW.id, 'UPDATE', row_to_json(OLD), row_to_json(NEW), current_user);
    ELSIF (TG_OP = 'INSERT') THEN
        INSERT INTO vm_config_audit (vm_id, action, new_values, changed_by)
        VALUES (NEW.id, 'INSERT', row_to_json(NEW), current_user);
    ELSIF (TG_OP = 'DELETE') THEN
        INSERT INTO vm_config_audit (vm_id, action, old_values, changed_by)
        VALUES (OLD.id, 'DELETE', row_to_json(OLD), current_user);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER vm_config_audit_trigger
AFTER INSERT OR UPDATE OR DELETE ON vm_configs
FOR EACH ROW EXECUTE FUNCTION audit_vm_config_changes();

-- Indexes for performance
CREATE INDEX idx_vm_configs_environment ON vm_configs(environment);
CREATE INDEX idx_vm_configs_enabled ON vm_configs(enabled);
CREATE INDEX idx_vm_configs_vm_name ON vm_configs(vm_name);
