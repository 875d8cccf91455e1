<?xml version="1.0" encoding="ISO-8859-1"?>
<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.opengis.net/sld StyledLayerDescriptor.xsd">
  <!-- An older layout: the UserStyle right under the root, filters in the SLD namespace, literals wrapped. -->
  <UserStyle>
    <Name>Regions (old style)</Name>
    <Title>Régions</Title>
    <Abstract/>
    <FeatureTypeStyle>
      <FeatureTypeName>Feature</FeatureTypeName>
      <Rule>
        <Name>idf</Name>
        <Filter>
          <PropertyIsEqualTo>
            <PropertyName>nom</PropertyName>
            <Literal>Île-de-France</Literal>
          </PropertyIsEqualTo>
        </Filter>
        <PolygonSymbolizer>
          <Fill>
            <CssParameter name="fill"><ogc:Literal>#FFAA00</ogc:Literal></CssParameter>
            <CssParameter name="fill-opacity"><ogc:Literal>1.0</ogc:Literal></CssParameter>
          </Fill>
        </PolygonSymbolizer>
        <TextSymbolizer>
          <Label><ogc:PropertyName>nom</ogc:PropertyName></Label>
          <Font><CssParameter name="font-family">Arial</CssParameter><CssParameter name="font-weight">bold</CssParameter></Font>
          <VendorOption name="maxDisplacement">40</VendorOption>
        </TextSymbolizer>
      </Rule>
      <Rule>
        <Name>outline</Name>
        <LineSymbolizer>
          <Stroke/>
        </LineSymbolizer>
      </Rule>
    </FeatureTypeStyle>
  </UserStyle>
</StyledLayerDescriptor>
