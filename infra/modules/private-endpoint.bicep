// One private endpoint for one sub-resource (groupId) of a service, with its
// A record in the matching private DNS zone.
@description('Required. Endpoint name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}
@description('Required. Subnet of the endpoint.')
param subnetId string
@description('Required. Resource id of the service.')
param serviceId string
@description('Required. Sub-resource: blob, queue, table, Sql, namespace or vault.')
param groupId string
@description('Required. Private DNS zone of that sub-resource.')
param dnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [groupId]
        }
      }
    ]
  }
}

resource dnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      { name: groupId, properties: { privateDnsZoneId: dnsZoneId } }
    ]
  }
}
