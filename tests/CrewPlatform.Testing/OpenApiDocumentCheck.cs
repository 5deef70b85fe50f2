using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>
/// What a service's OpenAPI document must say for a generated client: every <c>/api</c> endpoint the service maps, each
/// with an operationId, a summary, its 2xx body's schema, the error envelope for every 4xx and the Bearer credential,
/// and one server URL without a trailing slash. The document is written to <c>TestResults/openapi/&lt;service&gt;.json</c>
/// first, where <c>scripts/test.sh</c> lints it, so a failed check still leaves it to read.
/// </summary>
public static class OpenApiDocumentCheck
{
    private const string ErrorSchemaRef = "#/components/schemas/ErrorEnvelope";

    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];

    /// <param name="services">The service's own, whose routing says which operations it has.</param>
    public static async Task<JsonDocument> CheckAsync(HttpClient client, IServiceProvider services, string service)
    {
        var text = await client.GetStringAsync("/openapi/v1.json");
        var file = RealInfrastructure.RepositoryFile($"TestResults/openapi/{service}.json");
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, text);

        var document = JsonDocument.Parse(text);
        var problems = Problems(document.RootElement, MappedOperations(services)).ToList();
        Assert.True(problems.Count == 0, $"{service}'s OpenAPI document ({file}):{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        return document;
    }

    /// <summary>Each <c>/api</c> route the service maps, as "METHOD /path" with the route's parameters as the document writes them.</summary>
    private static List<string> MappedOperations(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} {DocumentedPath(e.RoutePattern.RawText!)}"))
            .ToList();

    // "/api/scheduler/" is documented as "/api/scheduler".
    private static string DocumentedPath(string pattern) => pattern.Length > 1 ? pattern.TrimEnd('/') : pattern;

    private static IEnumerable<string> Problems(JsonElement root, List<string> mapped)
    {
        var servers = root.TryGetProperty("servers", out var list) ? list.EnumerateArray().ToList() : [];
        if (servers.Count != 1 || servers[0].GetProperty("url").GetString() is not { Length: > 0 } url || url.EndsWith('/'))
        {
            yield return $"servers must be one URL without a trailing slash: {(servers.Count == 0 ? "none" : list.GetRawText())}";
        }

        if (!root.TryGetProperty("components", out var components) || !components.TryGetProperty("securitySchemes", out var schemes)
            || !schemes.TryGetProperty("bearer", out var bearer) || bearer.GetProperty("scheme").GetString() != "bearer")
        {
            yield return "components.securitySchemes has no http bearer scheme named 'bearer'";
        }

        var documented = new List<string>();
        var operationIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in Methods.Where(m => path.Value.TryGetProperty(m, out _)))
            {
                var name = $"{method.ToUpperInvariant()} {path.Name}";
                documented.Add(name);
                foreach (var problem in OperationProblems(path.Value.GetProperty(method), operationIds))
                {
                    yield return $"{name}: {problem}";
                }
            }
        }

        if (mapped.Count == 0)
        {
            yield return "the service maps no /api endpoint";
        }

        foreach (var missing in mapped.Except(documented, StringComparer.Ordinal))
        {
            yield return $"{missing}: mapped but not in the document";
        }
    }

    private static IEnumerable<string> OperationProblems(JsonElement operation, HashSet<string> operationIds)
    {
        if (!operation.TryGetProperty("operationId", out var id) || id.GetString() is not { Length: > 0 } operationId)
        {
            yield return "no operationId";
        }
        else if (!operationIds.Add(operationId))
        {
            yield return $"operationId '{operationId}' is used twice";
        }

        if (!operation.TryGetProperty("summary", out var summary) || string.IsNullOrWhiteSpace(summary.GetString()))
        {
            yield return "no summary";
        }

        if (!operation.TryGetProperty("security", out var security) || !security.EnumerateArray().Any(r => r.TryGetProperty("bearer", out _)))
        {
            yield return "does not ask for the bearer credential";
        }

        var responses = operation.GetProperty("responses").EnumerateObject().ToList();
        if (!responses.Any(r => r.Name.StartsWith('2') && JsonSchema(r.Value) is { } schema && schema.EnumerateObject().Any()))
        {
            yield return "no 2xx response with a JSON schema";
        }

        foreach (var refusal in responses.Where(r => r.Name.StartsWith('4')))
        {
            if (JsonSchema(refusal.Value) is not { } schema || !schema.TryGetProperty("$ref", out var reference) || reference.GetString() != ErrorSchemaRef)
            {
                yield return $"{refusal.Name} is not described as the error envelope";
            }
        }

        if (!responses.Any(r => r.Name == "401"))
        {
            yield return "no 401 (the gateway's answer without a credential)";
        }
    }

    private static JsonElement? JsonSchema(JsonElement response) =>
        response.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var json)
            && json.TryGetProperty("schema", out var schema)
            ? schema
            : null;
}
