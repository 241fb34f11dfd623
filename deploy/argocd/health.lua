-- Argo CD health check for omkc.dev/OpenMetadataKeycloakClient.
--
-- Healthy:     Ready=True and status.observedGeneration == metadata.generation.
-- Degraded:    Ready=False for a reason that needs a change by the user (bad spec, missing or
--              rejected credentials, a conflict with a client or Secret the resource does not
--              own, ...). The operator will not get further on its own.
-- Progressing: everything else: no status yet, the operator has not seen the latest
--              generation, deletion under way, or a transient failure it is retrying
--              (Keycloak unreachable, a conflict, an API error).
--
-- Install: argocd-cm key resource.customizations.health.omkc.dev_OpenMetadataKeycloakClient
-- (docs/operators/argocd.md). Tested under Lua 5.4 by tests/deploy/test_argocd.py.

local hs = {}

-- Ready=False reasons that are permanent; src/reason.rs (class Permanent) is the source
-- and a test keeps this table equal to it.
local permanent = {
  ClientConflict = true,
  ClientPolicyConflict = true,
  ConfigMapConflict = true,
  ConnectionClientLimit = true,
  ConnectionInvalid = true,
  ConnectionNotAllowed = true,
  ConnectionNotFound = true,
  CredentialsInvalid = true,
  CredentialsNotAllowed = true,
  CredentialsNotFound = true,
  CredentialsRejected = true,
  InvalidSpec = true,
  KeycloakForbidden = true,
  KeycloakRejected = true,
  KubernetesRejected = true,
  RealmNotAllowed = true,
  RealmNotFound = true,
  ScopeNotFound = true,
  SecretConflict = true,
  SecretSourceInvalid = true,
  SecretSourceNotFound = true,
}

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is removing the Keycloak client"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the resource"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. string.format("%d", generation)
  return hs
end

local ready = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

local message = ready.message or ""
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end

if ready.status == "False" and ready.reason ~= nil and permanent[ready.reason] then
  hs.status = "Degraded"
  hs.message = ready.reason .. ": " .. message
  return hs
end

hs.status = "Progressing"
if ready.reason ~= nil then
  hs.message = ready.reason .. ": " .. message
else
  hs.message = message
end
return hs
