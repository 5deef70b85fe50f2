using System.Text;

namespace CrewPlatform.ApiFuzz;

/// <summary>One request as it goes on the wire: the raw path and query, the body and its Content-Type.</summary>
public sealed record FuzzRequest(ApiOperation Operation, string Method, string Target, byte[]? Body, string? ContentType, string Case)
{
    public string Describe() =>
        $"{Method} {Excerpt(Target, 160)}{(Body is null ? "" : $" body[{Body.Length} B, {ContentType ?? "no content type"}]: {Excerpt(Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 200)), 120)}")} ({Case})";

    public static string Excerpt(string text, int length) =>
        (text.Length <= length ? text : text[..length] + $"... ({text.Length} chars)").ReplaceLineEndings(" ").Replace("\0", "\\0", StringComparison.Ordinal);
}

/// <summary>What exists in the fixture's database, so that some generated requests reach the happy paths.</summary>
public sealed record ValidInputs(string UserUid, IReadOnlyList<int> AnswerIds, Guid RunId, Guid WebhookId)
{
    /// <summary>A webhook target that needs no DNS and is never called: the fuzz publishes no events.</summary>
    public const string WebhookUrl = "http://127.0.0.1:9/hook";
}

/// <summary>
/// Generates the requests for every operation of a document: each hostile value in each parameter and body field on
/// its own (the others valid), whole hostile bodies and content types, repeated and unknown query parameters, other
/// methods on each path, then random mixes. Deterministic: the same seed gives the same requests in the same order.
/// </summary>
public sealed class FuzzRequestGenerator(ValidInputs valid, int seed)
{
    public const int RandomMixesPerOperation = 100;

    private readonly Random random = new(seed);
    private readonly List<string> smallJsonValues = HostileInput.JsonValues.Where(v => v.Length < 20_000).ToList();
    private readonly Dictionary<ApiOperation, List<(string Case, byte[] Body)>> wholeBodies = [];

    public List<FuzzRequest> Generate(IReadOnlyList<ApiOperation> operations)
    {
        var requests = new List<FuzzRequest>();
        foreach (var operation in operations)
        {
            requests.AddRange(ForOperation(operation));
        }

        foreach (var path in operations.GroupBy(o => o.Path))
        {
            var template = path.First();
            foreach (var method in new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" }.Where(m => path.All(o => o.Method != m)))
            {
                requests.Add(Request(template with { Method = method }, ValidPathValues(template), [], template.TakesBody || method is "POST" or "PUT" or "PATCH" ? ValidBody(template) : null, "application/json", $"undeclared method {method}"));
            }
        }

        return requests;
    }

    private IEnumerable<FuzzRequest> ForOperation(ApiOperation op)
    {
        var pathValues = ValidPathValues(op);
        var validBody = op.TakesBody ? ValidBody(op) : null;
        const string Json = "application/json";

        yield return Request(op, pathValues, ValidQuery(op), validBody, Json, "all valid");

        foreach (var parameter in op.PathParameters)
        {
            foreach (var segment in HostileInput.PathSegments)
            {
                yield return Request(op, new Dictionary<string, string>(pathValues) { [parameter.Name] = segment }, [], validBody, Json, $"path {parameter.Name}");
            }
        }

        foreach (var parameter in op.QueryParameters)
        {
            foreach (var value in IsSearch(parameter) ? HostileInput.QueryValues.Concat(HostileInput.SearchQueryValues) : HostileInput.QueryValues)
            {
                yield return Request(op, pathValues, [(parameter.Name, value)], validBody, Json, $"query {parameter.Name}");
            }

            var validValue = ValidQueryValue(parameter);
            yield return Request(op, pathValues, [(parameter.Name, validValue), (parameter.Name, validValue)], validBody, Json, $"query {parameter.Name} twice, same value");
            yield return Request(op, pathValues, [(parameter.Name, "1"), (parameter.Name, "2")], validBody, Json, $"query {parameter.Name} twice");
            yield return Request(op, pathValues, [(parameter.Name, ""), (parameter.Name, "")], validBody, Json, $"query {parameter.Name} twice, empty");
            yield return Request(op, pathValues, [(parameter.Name.ToUpperInvariant(), validValue)], validBody, Json, $"query {parameter.Name} in upper case");
            yield return Request(op, pathValues, [(parameter.Name, null)], validBody, Json, $"query {parameter.Name} without =");
        }

        foreach (var (name, value) in new (string, string?)[]
        {
            ("unknown", "%00"), ("%zz", "1"), ("", ""), ("", null), ("a%00b", "1"), (new string('q', HostileInput.LongTextLength), "1"),
            ("__proto__", "x"), ("limit[]", "1"), ("limit[0]", "1"), ("user.uid", "x"), ("%ed%a0%80", "%ed%a0%80"),
        })
        {
            yield return Request(op, pathValues, [.. ValidQuery(op), (name, value)], validBody, Json, "unknown query parameter");
        }

        if (op.TakesBody)
        {
            foreach (var field in op.BodyFields)
            {
                foreach (var json in IsSearch(field) ? HostileInput.JsonValues.Concat(HostileInput.SearchJsonValues) : HostileInput.JsonValues)
                {
                    yield return Request(op, pathValues, [], Encoding.UTF8.GetBytes(Body(op, (field.Name, json))), Json, $"body {field.Name}");
                }

                yield return Request(op, pathValues, [], Encoding.UTF8.GetBytes(Body(op, (field.Name, null))), Json, $"body without {field.Name}");

                if (NestedFields.TryGetValue(field.Name, out var nested))
                {
                    foreach (var json in HostileInput.JsonValues)
                    {
                        yield return Request(op, pathValues, [], Encoding.UTF8.GetBytes(Body(op, (field.Name, $"{{\"{nested}\":{json}}}"))), Json, $"body {field.Name}.{nested}");
                    }

                    yield return Request(op, pathValues, [], Encoding.UTF8.GetBytes(Body(op, (field.Name, $"{{\"{nested}\":60,\"{nested}\":61,\"x\":1}}"))), Json, $"body {field.Name} with an unknown field");
                }

                // A schedule's cron and time zone are read only without intervalMinutes (a body takes one cadence): hostile
                // values and the calendar's edges reach Cronos and the time-zone database.
                if (CalendarFields.TryGetValue(field.Name, out var edges))
                {
                    foreach (var json in HostileInput.JsonValues.Concat(edges.Select(HostileInput.JsonString)))
                    {
                        var cron = field.Name == "cron" ? json : HostileInput.JsonString("0 6 * * 1-5");
                        var name = HostileInput.JsonString($"calendar-{++calendarNames}");
                        yield return Request(
                            op, pathValues, [], Encoding.UTF8.GetBytes(Body(op, (field.Name, json), ("cron", cron), ("intervalMinutes", null), ("name", name))), Json,
                            $"body {field.Name} as a calendar");
                    }
                }
            }

            foreach (var (name, body) in WholeBodies(op))
            {
                yield return Request(op, pathValues, [], body, Json, $"whole body: {name}");
            }

            foreach (var contentType in HostileInput.ContentTypes)
            {
                yield return Request(op, pathValues, [], validBody, contentType, $"content type {contentType ?? "none"}");
            }

            yield return Request(op, pathValues, [], Encoding.UTF8.GetBytes("action=start&intervalMinutes=5&userUid=u&responseData=%7B%7D"), "application/x-www-form-urlencoded", "form body");
            yield return Request(op, pathValues, [], null, null, "no body");
        }

        for (var i = 0; i < RandomMixesPerOperation; i++)
        {
            yield return RandomMix(op, pathValues);
        }
    }

    /// <summary>Every parameter and field valid, absent or hostile at random; sometimes a hostile body or content type.</summary>
    private FuzzRequest RandomMix(ApiOperation op, Dictionary<string, string> validPath)
    {
        var path = validPath.ToDictionary(p => p.Key, p => random.Next(3) == 0 ? Pick(HostileInput.PathSegments) : p.Value);
        var query = new List<(string, string?)>();
        foreach (var parameter in op.QueryParameters)
        {
            switch (random.Next(4))
            {
                case 0:
                    break;
                case 1:
                    query.Add((parameter.Name, ValidQueryValue(parameter)));
                    break;
                default:
                    query.Add((parameter.Name, Pick(IsSearch(parameter) && random.Next(2) == 0 ? HostileInput.SearchQueryValues : HostileInput.QueryValues)));
                    break;
            }
        }

        byte[]? body = null;
        string? contentType = "application/json";
        if (op.TakesBody)
        {
            var fields = op.BodyFields.Select(f => random.Next(4) switch
            {
                0 => (f.Name, (string?)null),
                1 => (f.Name, ValidJsonValue(f)),
                _ => (f.Name, IsSearch(f) && random.Next(2) == 0 ? Pick(HostileInput.SearchJsonValues) : PickJsonValue()),
            }).ToArray();
            body = random.Next(10) == 0
                ? Pick(WholeBodies(op).Where(b => b.Body.Length < 200_000)).Body
                : Encoding.UTF8.GetBytes(Body(op, fields));
            if (random.Next(8) == 0)
            {
                contentType = Pick(HostileInput.ContentTypes);
            }
        }

        return Request(op, path, query, body, contentType, $"random mix (seed {seed})");
    }

    private string PickJsonValue() => Pick(smallJsonValues);

    /// <summary>Object fields whose one inner field gets every hostile value too.</summary>
    private int calendarNames;

    private static readonly Dictionary<string, string[]> CalendarFields = new(StringComparer.Ordinal)
    {
        ["cron"] =
        [
            "0 6 * * 1-5", "*/15 * * * * *", "30 2 * * *", "0 0 30 2 *", "0 0 29 2 *", "61 * * * *", "* * * * * * *", "@daily", "0 0 L * *",
            "0 0 ? * MON#5", "0 6 * * 1-5 extra", "0 0 1-31/0 * *", "0 0 1 1 * 2099", "9999999999 * * * *", " ", "0\t6 * * *",
        ],
        ["timeZone"] =
        [
            "Europe/Paris", "UTC", "Etc/GMT+12", "Mars/Olympus", "Europe/../etc", "America", "Etc", "Local", "Romance Standard Time",
            "posixrules", "right/UTC", "zone.tab", "tzdata.zi", "EST5EDT", "+01:00", "/etc/localtime",
        ],
    };

    private static readonly Dictionary<string, string> NestedFields = new(StringComparer.Ordinal) { ["skipUnchanged"] = "freshForMinutes" };

    /// <summary>The content search's parameters and a webhook's filter, which PostgreSQL parses: they get its hostile text too.</summary>
    private static bool IsSearch(ApiField parameter) => parameter.Name is "jsonPath" or "q";

    /// <summary>Built once per operation: some are megabytes.</summary>
    private List<(string Case, byte[] Body)> WholeBodies(ApiOperation op)
    {
        if (!wholeBodies.TryGetValue(op, out var bodies))
        {
            wholeBodies[op] = bodies = HostileInput.WholeBodies(Body(op)).ToList();
        }

        return bodies;
    }

    private T Pick<T>(IEnumerable<T> values)
    {
        var list = values as IList<T> ?? values.ToList();
        return list[random.Next(list.Count)];
    }

    private static FuzzRequest Request(ApiOperation op, IReadOnlyDictionary<string, string> path, IEnumerable<(string Name, string? Value)> query, byte[]? body, string? contentType, string @case)
    {
        var target = new StringBuilder(op.Path);
        foreach (var (name, value) in path)
        {
            target.Replace("{" + name + "}", value);
        }

        var pairs = query.Select(q => q.Value is null ? q.Name : $"{q.Name}={q.Value}").ToList();
        if (pairs.Count > 0)
        {
            target.Append('?').AppendJoin('&', pairs);
        }

        return new FuzzRequest(op, op.Method, target.ToString(), body, body is null ? null : contentType, @case);
    }

    private Dictionary<string, string> ValidPathValues(ApiOperation op) =>
        op.PathParameters.ToDictionary(p => p.Name, p =>
            op.Path.StartsWith("/api/scheduler/schedules/", StringComparison.Ordinal) ? "1"
            : op.Path.StartsWith("/api/scheduler", StringComparison.Ordinal) ? valid.RunId.ToString()
            : op.Path.StartsWith("/api/webhooks", StringComparison.Ordinal) ? valid.WebhookId.ToString()
            : valid.AnswerIds[random.Next(valid.AnswerIds.Count)].ToString(System.Globalization.CultureInfo.InvariantCulture));

    private List<(string, string?)> ValidQuery(ApiOperation op) => op.QueryParameters.Select(p => (p.Name, (string?)ValidQueryValue(p))).ToList();

    private string ValidQueryValue(ApiField field) => field.Name switch
    {
        "userUid" => HostileInput.EncodeQueryComponent(valid.UserUid),
        "limit" => "10",
        "offset" => "0",
        "startDate" => "2020-01-01",
        "endDate" => "2030-12-31T23:59:59Z",
        "runId" => valid.RunId.ToString(),
        "jsonPath" => HostileInput.EncodeQueryComponent("exists($.n ? (@ >= 0))"),
        "q" => "riders",
        _ => field.Type switch
        {
            "integer" or "number" => "1",
            "boolean" => "true",
            "date-time" => "2024-01-01T00:00:00Z",
            _ => "x",
        },
    };

    private string? ValidJsonValue(ApiField field) => field.Name switch
    {
        // intervalMinutes is a valid body's cadence; cron and its time zone are fuzzed as a calendar of their own.
        "cron" or "timeZone" => null,
        "catchUp" => HostileInput.JsonString(random.Next(2) == 0 ? "one" : "none"),
        "userUid" => HostileInput.JsonString(valid.UserUid),
        "action" => HostileInput.JsonString(random.Next(3) switch { 0 => "start", 1 => "stop", _ => "run-now" }),
        "intervalMinutes" => "60",
        "skipUnchanged" => """{"freshForMinutes":60}""",

        // Values the scheduler's bodies take, so that a hostile value in a later field is read rather than refused first.
        "segment" => "\"all\"",
        "endpoint" => "\"default\"",
        "overlap" => "\"skip\"",
        "priority" => "\"normal\"",
        "responseData" => """{"Questions":[{"Question 1":"Who?","Answers":["Riders"]}]}""",
        "url" => HostileInput.JsonString(ValidInputs.WebhookUrl),
        "events" => """["crew-response.stored","crew-response.changed","run.completed"]""",
        "jsonPath" => HostileInput.JsonString("exists($.Questions[*] ? (@.Answers[*] like_regex \"price\" flag \"i\"))"),
        "includeAnswer" => "true",
        _ => field.Type switch
        {
            "integer" or "number" => "1",
            "boolean" => "true",
            "date-time" => "\"2024-01-01T00:00:00Z\"",
            "object" => "{}",
            "array" => "[]",
            _ => "\"text\"",
        },
    };

    private byte[] ValidBody(ApiOperation op) => Encoding.UTF8.GetBytes(Body(op));

    /// <summary>The operation's body with every field valid except the overrides (a null value leaves the field out).</summary>
    private string Body(ApiOperation op, params (string Name, string? Json)[] overrides)
    {
        var fields = op.BodyFields.Select(f =>
        {
            var match = overrides.FirstOrDefault(o => o.Name == f.Name);
            return match.Name is null ? (f.Name, ValidJsonValue(f)) : (f.Name, match.Json);
        });
        return "{" + string.Join(',', fields.Where(f => f.Item2 is not null).Select(f => $"{HostileInput.JsonString(f.Name)}:{f.Item2}")) + "}";
    }
}
