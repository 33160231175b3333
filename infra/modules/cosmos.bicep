// Cosmos DB for NoSQL: one database, the containers the handler uses, each
// partitioned on /id (the handler addresses every document by id and
// partition key, the same value). Keys are disabled: the app's identity has
// the data-plane role Cosmos DB Built-in Data Contributor.
@description('Required. Account name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@allowed(['Serverless', 'Autoscale'])
@description('Optional. Serverless, or autoscale throughput shared by the database.')
param capacityMode string = 'Serverless'
@minValue(1000)
@description('Optional. Autoscale maximum RU/s of the database (Autoscale only).')
param autoscaleMaxThroughput int = 4000
@description('Required. Principal id of the app\'s managed identity.')
param principalId string
@description('Required. Subnet of the private endpoint.')
param privateEndpointSubnetId string
@description('Required. Private DNS zone privatelink.documents.azure.com.')
param dnsZoneId string
@description('Optional. Database name (COSMOS_DATABASE).')
param databaseName string = 'profileflow'

// name = the default of the COSMOS_CONTAINER_* setting; ttl -1 turns TTL on
// with no default, so only documents carrying "ttl" expire.
// indexed: the paths the handler's queries filter on (stores.QueriedPaths);
// every other path is excluded, so writes cost the fewest RU.
var containers = [
  { name: 'profiles', partitionKey: '/id', ttl: null, indexed: [] }
  {
    name: 'requests'
    partitionKey: '/id'
    ttl: null
    indexed: [
      '/type/?'
      '/taskIndex/groups/[]/?'
      '/taskIndex/actors/[]/?'
      '/taskIndex/latest/?'
      '/sweepAttentionSince/?'
      '/sweepScanSince/?'
      '/sweepTimerDue/?'
    ]
  }
  { name: 'uploads', partitionKey: '/id', ttl: -1, indexed: ['/sweepUnclaimedUntil/?'] }
  { name: 'mfa', partitionKey: '/id', ttl: -1, indexed: [] }
  { name: 'idempotency', partitionKey: '/id', ttl: -1, indexed: [] }
]


resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    capabilities: capacityMode == 'Serverless' ? [{ name: 'EnableServerless' }] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    publicNetworkAccess: 'Disabled'
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    options: capacityMode == 'Autoscale' ? { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } } : {}
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for c in containers: {
  parent: database
  name: c.name
  properties: {
    resource: union({
      id: c.name
      partitionKey: { paths: [c.partitionKey], kind: 'Hash', version: 2 }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [for p in c.indexed: { path: p }]
        excludedPaths: [{ path: '/*' }]
      }
    }, c.ttl == null ? {} : { defaultTtl: c.ttl })
  }
}]

// Cosmos DB Built-in Data Contributor (data plane, 00000000-0000-0000-0000-000000000002)
resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, principalId, '00000000-0000-0000-0000-000000000002')
  properties: {
    principalId: principalId
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    scope: '${account.id}/dbs/${databaseName}'
  }
}

module endpoint 'private-endpoint.bicep' = {
  name: 'pe-${name}'
  params: {
    name: 'pe-${name}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    serviceId: account.id
    groupId: 'Sql'
    dnsZoneId: dnsZoneId
  }
}

output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
output containerNames array = [for c in containers: c.name]
