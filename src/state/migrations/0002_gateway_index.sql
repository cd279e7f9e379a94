-- 0002_gateway_index.sql: the index rows of an account's gateways (agentcore/internal.h), made
-- for the gateways stored before they existed: by name for every gateway not being deleted, by
-- the clientToken of its CreateGateway for every gateway that has one.
INSERT OR IGNORE INTO documents (kind, account, key, doc, updated_ms)
SELECT 'agentcore_gateway_name', account, json_extract(doc, '$.name'),
       json_object('gatewayId', key), updated_ms
FROM documents
WHERE kind = 'agentcore_gateway' AND json_valid(doc)
  AND json_type(doc, '$.name') = 'text'
  AND coalesce(json_extract(doc, '$.status'), '') <> 'DELETING';
INSERT OR IGNORE INTO documents (kind, account, key, doc, updated_ms)
SELECT 'agentcore_gateway_token', account, json_extract(doc, '$._clientToken'),
       json_object('gatewayId', key), updated_ms
FROM documents
WHERE kind = 'agentcore_gateway' AND json_valid(doc)
  AND json_type(doc, '$._clientToken') = 'text';
