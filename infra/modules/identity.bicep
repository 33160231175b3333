// The function app's one user-assigned managed identity: every data-plane
// role of the system is granted to it, by the module of the resource.
@description('Required. Identity name.')
param name string
@description('Required. Region.')
param location string
@description('Optional. Resource tags.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
