// Service Bus: the workflow and notifications queues with the properties the
// local peer applies (dev/sbpeer/topology.json). Duplicate detection needs
// Standard or Premium (the handler's message ids are deterministic). Local
// (SAS) auth is off; the app's identity sends and receives.
@description('Required. Namespace name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@allowed(['Standard', 'Premium'])
@description('Optional. Tier.')
param sku string = 'Standard'
@description('Optional. Premium messaging units.')
param capacity int = 1
@description('Optional. Premium messaging partitions.')
param partitions int = 1
@description('Required. Principal id of the app\'s managed identity.')
param principalId string
@description('Required. Subnet of the private endpoint (Premium only).')
param privateEndpointSubnetId string
@description('Required. Private DNS zone privatelink.servicebus.windows.net.')
param dnsZoneId string

var premium = sku == 'Premium'

var queues = [
  {
    name: 'workflow'
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
  {
    name: 'notifications'
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
]

var roles = [
  // Azure Service Bus Data Sender: the handler sends workflow steps and notices
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Azure Service Bus Data Receiver: the host receives for WorkflowStep, WorkflowDeadLetter and Notify
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
    capacity: premium ? capacity : null
  }
  properties: union({
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: premium ? 'Disabled' : 'Enabled'
  }, premium ? { premiumMessagingPartitions: partitions } : {})
}

resource queueResources 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for q in queues: {
  parent: namespace
  name: q.name
  properties: {
    lockDuration: q.lockDuration
    maxDeliveryCount: q.maxDeliveryCount
    requiresDuplicateDetection: q.requiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: q.duplicateDetectionHistoryTimeWindow
    deadLetteringOnMessageExpiration: q.deadLetteringOnMessageExpiration
    defaultMessageTimeToLive: q.defaultMessageTimeToLive
    requiresSession: false
  }
}]

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  scope: namespace
  name: guid(namespace.id, principalId, role)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

// Private endpoints exist for Premium namespaces only.
module endpoint 'private-endpoint.bicep' = if (premium) {
  name: 'pe-${name}'
  params: {
    name: 'pe-${name}'
    location: location
    tags: tags
    subnetId: privateEndpointSubnetId
    serviceId: namespace.id
    groupId: 'namespace'
    dnsZoneId: dnsZoneId
  }
}

output id string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output queueNames array = [for q in queues: q.name]
