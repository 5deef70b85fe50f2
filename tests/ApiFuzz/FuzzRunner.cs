using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;

namespace CrewPlatform.ApiFuzz;

/// <summary>What came back for one request, and what is wrong with it (null when nothing is).</summary>
public sealed record FuzzOutcome(FuzzRequest Request, int Status, string Body, string? Problem)
{
    public string Describe() => $"{Request.Describe()} -> {Status} {FuzzRequest.Excerpt(Body, 300)}{(Problem is null ? "" : $" [{Problem}]")}";
}

/// <summary>Sends generated requests and judges each answer by the contract's rules for bad input.</summary>
public static partial class FuzzRunner
{
    /// <summary>What a body must never contain: .NET type names, SQL text, stack frames.</summary>
    private static readonly string[] Internals = ["System.", "Npgsql", "Microsoft.", "SELECT ", "syntax error", "Exception"];

    [GeneratedRegex(@"\bat .+\.cs:line \d+")]
    private static partial Regex StackFrame();

    /// <summary>
    /// The list's refusal of a <c>jsonPath</c> quotes PostgreSQL's jsonpath parser on purpose ("syntax error at end of
    /// jsonpath input"): it names the problem in the caller's own path and shows nothing of the service's SQL.
    /// </summary>
    [GeneratedRegex("""^\{"success":false,"error":"jsonPath is not a valid SQL/JSON path: [^"\\]*(?:\\.[^"\\]*)* of jsonpath input"\}$""")]
    private static partial Regex JsonPathRefusal();

    /// <summary>
    /// Sends each request to an in-memory server. Not through <see cref="HttpClient"/>: <see cref="Uri"/> would remove dot
    /// segments and re-encode %2e, %zz or %c0%af; here the path is decoded as a server decodes the request target and the
    /// query string arrives exactly as generated.
    /// </summary>
    public static async Task<List<FuzzOutcome>> RunAsync(TestServer server, IEnumerable<FuzzRequest> requests, string? authorization = null)
    {
        var outcomes = new List<FuzzOutcome>();
        foreach (var request in requests)
        {
            var (status, body) = await SendAsync(server, request, authorization);
            outcomes.Add(new FuzzOutcome(request, status, body, Judge(status, body)));
        }

        return outcomes;
    }

    public static async Task<(int Status, string Body)> SendAsync(TestServer server, FuzzRequest request, string? authorization)
    {
        var queryStart = request.Target.IndexOf('?', StringComparison.Ordinal);
        var path = queryStart < 0 ? request.Target : request.Target[..queryStart];
        var context = await server.SendAsync(http =>
        {
            http.Request.Method = request.Method;
            http.Request.Path = DecodedPath(path);
            http.Request.QueryString = queryStart < 0 ? QueryString.Empty : new QueryString(request.Target[queryStart..]);
            if (authorization is not null)
            {
                http.Request.Headers.Authorization = authorization;
            }

            if (request.Body is not null)
            {
                http.Request.Body = new MemoryStream(request.Body);
                http.Request.ContentLength = request.Body.Length;
                http.Request.ContentType = request.ContentType;
            }
        });

        using var reader = new StreamReader(context.Response.Body, Encoding.UTF8);
        return (context.Response.StatusCode, await reader.ReadToEndAsync());
    }

    /// <summary>
    /// The path as Kestrel hands it to the app. An encoded NUL is refused by Kestrel's decoder itself (a bare 400 before
    /// any middleware); the app then gets the segment still encoded, which is one more odd id to try.
    /// </summary>
    private static PathString DecodedPath(string path)
    {
        try
        {
            return PathString.FromUriComponent(path);
        }
        catch (InvalidOperationException)
        {
            return new PathString(path);
        }
    }

    /// <summary>No 5xx; every 4xx in the envelope (a JSON object with a non-empty <c>error</c> string); no internals anywhere.</summary>
    public static string? Judge(int status, string body)
    {
        if (status >= 500)
        {
            return "server error";
        }

        if (!JsonPathRefusal().IsMatch(body) && Internals.FirstOrDefault(marker => body.Contains(marker, StringComparison.Ordinal)) is { } leak)
        {
            return $"body shows internals ({leak.Trim()})";
        }

        if (StackFrame().IsMatch(body))
        {
            return "body shows a stack frame";
        }

        if (status >= 400 && !IsErrorEnvelope(body))
        {
            return "4xx without the error envelope";
        }

        return null;
    }

    private static bool IsErrorEnvelope(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.String
                && !string.IsNullOrWhiteSpace(error.GetString());
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>One line per target: the request count and the counts per status class.</summary>
    public static string Summary(string target, IReadOnlyCollection<FuzzOutcome> outcomes, int seed) =>
        $"api fuzz {target}: {outcomes.Count} requests (seed {seed}), 2xx={outcomes.Count(o => o.Status is >= 200 and < 300)} " +
        $"3xx={outcomes.Count(o => o.Status is >= 300 and < 400)} 4xx={outcomes.Count(o => o.Status is >= 400 and < 500)} " +
        $"5xx={outcomes.Count(o => o.Status >= 500)}, offending={outcomes.Count(o => o.Problem is not null)}";

    /// <summary>The first offending requests, and each distinct kind of failure (operation, case, status, problem) once.</summary>
    public static string Offenders(IReadOnlyCollection<FuzzOutcome> outcomes)
    {
        var bad = outcomes.Where(o => o.Problem is not null).ToList();
        var text = new StringBuilder();
        text.AppendLine("first offending requests:");
        foreach (var outcome in bad.Take(20))
        {
            text.AppendLine("  " + outcome.Describe());
        }

        text.AppendLine("distinct failures:");
        foreach (var kind in bad.GroupBy(o => $"{o.Request.Operation} | {o.Request.Case} | {o.Status} | {o.Problem}"))
        {
            text.AppendLine($"  {kind.Count(),5} x {kind.Key}   e.g. {kind.First().Describe()}");
        }

        return text.ToString();
    }
}
