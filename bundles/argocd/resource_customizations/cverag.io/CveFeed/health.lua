-- Argo CD health of a cverag.io resource (CveFeed, CveStore, CveIndex, RagEndpoint), from the
-- conditions the operator writes (controllers/machinery/conditions.py), the kstatus way:
--   a status from an older generation, or none yet          -> Progressing
--   Stalled=True (will not converge without a change)        -> Degraded
--   Ready=True                                               -> Healthy
--   Reconciling=True, or Ready=Unknown                       -> Progressing
--   Ready=False otherwise                                    -> Degraded
-- bundlegen copies this file to resource_customizations/cverag.io/<Kind>/health.lua and into
-- argocd-cm-health.yaml; tests/bundles run it on health_test.yaml's testdata with Lua 5.1.
local hs = {}
local generation = obj.metadata.generation or 0

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local found = {}
for _, condition in ipairs(obj.status.conditions) do
  found[condition.type] = condition
end

local function says(condition)
  local text = condition.reason or ""
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local ready, reconciling, stalled = found["Ready"], found["Reconciling"], found["Stalled"]
if ready ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = says(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end
if (reconciling ~= nil and reconciling.status == "True") or ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = says(reconciling or ready or { reason = "Reconciling" })
  return hs
end
hs.status = "Degraded"
hs.message = says(ready)
return hs
