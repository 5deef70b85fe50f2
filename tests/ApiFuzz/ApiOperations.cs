using System.Text.Json;

namespace CrewPlatform.ApiFuzz;

/// <summary>A parameter or body field of an operation, with its JSON-schema type (<c>string</c>, <c>integer</c> ...).</summary>
public sealed record ApiField(string Name, string Type);

/// <summary>One operation (path + method) of a service's OpenAPI document.</summary>
public sealed record ApiOperation(string Method, string Path, IReadOnlyList<ApiField> PathParameters, IReadOnlyList<ApiField> QueryParameters, IReadOnlyList<ApiField> BodyFields)
{
    public bool TakesBody => Method is "POST" or "PUT" or "PATCH";

    public override string ToString() => $"{Method} {Path}";
}

/// <summary>Reads every operation of an OpenAPI 3 document, with what its parameters and JSON body look like.</summary>
public static class ApiOperations
{
    /// <summary>
    /// Inputs some handlers read by hand from the request (<c>HttpRequest.Query</c>, the raw body), which the generated
    /// document therefore does not list: taken from the REST contract, and merged with what the document says.
    /// </summary>
    private static readonly Dictionary<string, (ApiField[] Query, ApiField[] Body)> HandParsedInputs = new()
    {
        ["POST /api/scheduler"] = ([], [new("action", "action"), new("intervalMinutes", "integer")]),
    };

    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "options", "head"];

    public static IReadOnlyList<ApiOperation> Read(string openApiJson)
    {
        using var document = JsonDocument.Parse(openApiJson);
        var root = document.RootElement;
        var operations = new List<ApiOperation>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in Methods)
            {
                if (!path.Value.TryGetProperty(method, out var operation))
                {
                    continue;
                }

                var parameters = operation.TryGetProperty("parameters", out var list) ? list.EnumerateArray().Select(p => Resolve(root, p)).ToList() : [];
                var key = $"{method.ToUpperInvariant()} {path.Name}";
                var handParsed = HandParsedInputs.GetValueOrDefault(key, ([], []));
                operations.Add(new ApiOperation(
                    method.ToUpperInvariant(),
                    path.Name,
                    Fields(root, parameters, "path"),
                    Merge(Fields(root, parameters, "query"), handParsed.Query),
                    Merge(BodyFields(root, operation), handParsed.Body)));
            }
        }

        return operations;
    }

    private static List<ApiField> Fields(JsonElement root, List<JsonElement> parameters, string location) =>
        parameters.Where(p => p.GetProperty("in").GetString() == location)
            .Select(p => new ApiField(p.GetProperty("name").GetString()!, p.TryGetProperty("schema", out var schema) ? TypeOf(root, schema) : "string"))
            .ToList();

    private static List<ApiField> BodyFields(JsonElement root, JsonElement operation)
    {
        if (!operation.TryGetProperty("requestBody", out var body)
            || !Resolve(root, body).TryGetProperty("content", out var content)
            || !content.EnumerateObject().Any(c => c.Name.Contains("json", StringComparison.Ordinal)))
        {
            return [];
        }

        var schema = Resolve(root, content.EnumerateObject().First(c => c.Name.Contains("json", StringComparison.Ordinal)).Value.GetProperty("schema"));
        return schema.TryGetProperty("properties", out var properties)
            ? properties.EnumerateObject().Select(p => new ApiField(p.Name, TypeOf(root, p.Value))).ToList()
            : [];
    }

    private static List<ApiField> Merge(List<ApiField> documented, ApiField[] handParsed) =>
        [.. documented, .. handParsed.Where(h => documented.All(d => !string.Equals(d.Name, h.Name, StringComparison.OrdinalIgnoreCase)))];

    /// <summary>The schema's type, <c>date-time</c> for a date, the first non-null type of a union.</summary>
    private static string TypeOf(JsonElement root, JsonElement schema)
    {
        schema = Resolve(root, schema);
        if (schema.TryGetProperty("format", out var format) && format.GetString() is "date-time" or "date")
        {
            return "date-time";
        }

        if (schema.TryGetProperty("type", out var type))
        {
            return type.ValueKind == JsonValueKind.Array
                ? type.EnumerateArray().Select(t => t.GetString()).FirstOrDefault(t => t != "null") ?? "string"
                : type.GetString() ?? "string";
        }

        foreach (var union in new[] { "oneOf", "anyOf", "allOf" })
        {
            if (schema.TryGetProperty(union, out var options) && options.GetArrayLength() > 0)
            {
                return options.EnumerateArray().Select(o => TypeOf(root, o)).FirstOrDefault(t => t != "null") ?? "string";
            }
        }

        return "string";
    }

    private static JsonElement Resolve(JsonElement root, JsonElement element)
    {
        while (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("$ref", out var reference))
        {
            var target = root;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            {
                target = target.GetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }

            element = target;
        }

        return element;
    }
}
