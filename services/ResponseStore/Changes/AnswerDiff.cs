using System.Globalization;
using CrewPlatform.Contracts;
using JsonDiffPatchDotNet;
using JsonDiffPatchDotNet.Formatters;
using JsonDiffPatchDotNet.Formatters.JsonPatch;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace CrewPlatform.ResponseStore.Changes;

/// <summary>
/// One difference between two answers. <paramref name="Path"/> is an RFC 6901 pointer: a <c>remove</c>'s into the
/// previous answer, an <c>add</c>'s and a <c>replace</c>'s into the new one (a list of differences to read, not a
/// patch to apply in order). <paramref name="From"/> is the previous value (remove, replace), <paramref name="Value"/>
/// the new one (add, replace), each as JSON text.
/// </summary>
public sealed record AnswerChange(string Op, string Path, string? From, string? Value)
{
    public const string Add = "add";
    public const string Remove = "remove";
    public const string Replace = "replace";
}

/// <summary>
/// The differences between two answers, computed by JsonDiffPatch.Net and its JSON Patch formatter: the one piece of
/// code behind both <c>GET /api/crew-responses/{id}/changes</c> and the <see cref="AnswerChangeSummary"/> of
/// <see cref="CrewResponseStored"/>.
/// <para>
/// Arrays are compared element by element (the library's efficient mode: a longest common subsequence, after the
/// common head and tail), so an edited answer inside <c>Answers</c> is named by its index, e.g.
/// <c>/Questions/1/Answers/0</c>; the library reports an edited array element as a remove and an add at the same index,
/// which are given here as one <c>replace</c>. An answer with an array of more than <see cref="MaxElementwiseArray"/>
/// elements has its arrays compared whole (a changed array is one <c>replace</c> of it), so that no answer costs the
/// consumer a quadratic comparison. Numbers compare by value, as jsonb does (<c>1.0</c> equals <c>1</c>). An answer
/// nested deeper than <see cref="MaxDepth"/> levels is compared as a whole (one <c>replace</c> of <c>""</c>).
/// The differences are listed in document order (as jsonb orders them: array elements by index, object keys by length
/// and then bytes).
/// </para>
/// </summary>
public static class AnswerDiff
{
    public const int MaxElementwiseArray = 1000;
    public const int MaxDepth = 256;

    public static IReadOnlyList<AnswerChange> Compare(string previous, string current)
    {
        if (Parse(previous) is not { } left || Parse(current) is not { } right)
        {
            return [new AnswerChange(AnswerChange.Replace, "", previous, current)];
        }

        var elementwise = LongestArray(left) <= MaxElementwiseArray && LongestArray(right) <= MaxElementwiseArray;
        var differ = new JsonDiffPatch(new Options
        {
            ArrayDiff = elementwise ? ArrayDiffMode.Efficient : ArrayDiffMode.Simple,
            TextDiff = TextDiffMode.Simple, // a changed string is one replace, never a text patch
        });
        var delta = differ.Diff(left, right);
        if (delta is null)
        {
            return [];
        }

        var formatter = new PointerFormatter();
        var operations = formatter.Format(delta);
        var changes = new List<(string[] Segments, AnswerChange Change)>(operations.Count);
        foreach (var operation in operations)
        {
            // The whole answer changed kind or type (the root is not an object or array on both sides).
            var root = delta is JArray;
            var segments = root ? [] : formatter.Segments(operation);
            var path = root ? "" : string.Concat(segments.Select(s => "/" + Escape(s)));
            switch (operation.Op)
            {
                case OperationTypes.Add:
                    changes.Add((segments, new AnswerChange(AnswerChange.Add, path, null, Text(operation.Value))));
                    break;
                case OperationTypes.Remove:
                    changes.Add((segments, new AnswerChange(AnswerChange.Remove, path, Text(formatter.Previous(operation)), null)));
                    break;
                case OperationTypes.Replace:
                    changes.Add((segments, new AnswerChange(AnswerChange.Replace, path, Text(formatter.Previous(operation)), Text(operation.Value))));
                    break;
                default:
                    // A move (the library reports none for these options): where it was and where it is.
                    var to = operation.Path[1..].Split('/');
                    changes.Add((segments, new AnswerChange(AnswerChange.Remove, path, Text(At(left, segments)), null)));
                    changes.Add((to, new AnswerChange(AnswerChange.Add, string.Concat(to.Select(s => "/" + Escape(s))), null, Text(At(right, to)))));
                    break;
            }
        }

        return Merge(changes);
    }

    /// <summary>The counts and the first <see cref="AnswerChangeSummary.MaxPaths"/> pointers of <paramref name="changes"/>.</summary>
    public static AnswerChangeSummary Summarize(IReadOnlyList<AnswerChange> changes) => new()
    {
        Added = changes.Count(c => c.Op == AnswerChange.Add),
        Removed = changes.Count(c => c.Op == AnswerChange.Remove),
        Modified = changes.Count(c => c.Op == AnswerChange.Replace),
        Paths = changes.Take(AnswerChangeSummary.MaxPaths).Select(c => c.Path).ToList(),
    };

    /// <summary>RFC 6901: <c>~</c> is written <c>~0</c> and <c>/</c> is written <c>~1</c>.</summary>
    public static string Escape(string segment) => segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static List<AnswerChange> Merge(List<(string[] Segments, AnswerChange Change)> changes)
    {
        // An edited element: removed and added at the same index.
        var removes = changes.Where(c => c.Change.Op == AnswerChange.Remove).GroupBy(c => c.Change.Path)
            .ToDictionary(g => g.Key, g => new Queue<(string[] Segments, AnswerChange Change)>(g));
        var merged = new List<(string[] Segments, AnswerChange Change)>(changes.Count);
        var replaced = new HashSet<AnswerChange>(ReferenceEqualityComparer.Instance);
        foreach (var (segments, change) in changes)
        {
            if (change.Op == AnswerChange.Add && removes.TryGetValue(change.Path, out var queue) && queue.TryDequeue(out var removed))
            {
                replaced.Add(removed.Change);
                merged.Add((segments, change with { Op = AnswerChange.Replace, From = removed.Change.From }));
            }
            else
            {
                merged.Add((segments, change));
            }
        }

        return merged
            .Where(c => !replaced.Contains(c.Change) && !(c.Change.Op == AnswerChange.Replace && SameNumber(c.Change.From, c.Change.Value)))
            .OrderBy(c => c.Segments, DocumentOrder.Instance)
            .ThenBy(c => c.Change.Op == AnswerChange.Remove ? 0 : 1)
            .Select(c => c.Change)
            .ToList();
    }

    private static JToken? Parse(string json)
    {
        foreach (var floats in (FloatParseHandling[])[FloatParseHandling.Decimal, FloatParseHandling.Double])
        {
            try
            {
                using var reader = new JsonTextReader(new StringReader(json))
                {
                    DateParseHandling = DateParseHandling.None, // strings stay strings, as written
                    FloatParseHandling = floats, // decimal keeps every digit; double for a number beyond decimal's range
                    MaxDepth = MaxDepth,
                };
                return JToken.ReadFrom(reader, new JsonLoadSettings { DuplicatePropertyNameHandling = DuplicatePropertyNameHandling.Replace });
            }
            catch (JsonReaderException)
            {
            }
            catch (OverflowException)
            {
            }
        }

        return null;
    }

    private static int LongestArray(JToken token) => token switch
    {
        JArray array => Math.Max(array.Count, array.Count == 0 ? 0 : array.Max(LongestArray)),
        JObject obj => obj.Count == 0 ? 0 : obj.Properties().Max(p => LongestArray(p.Value)),
        _ => 0,
    };

    private static JToken? At(JToken root, IEnumerable<string> segments)
    {
        var token = root;
        foreach (var segment in segments)
        {
            token = token switch
            {
                JObject obj => obj[segment],
                JArray array when int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < array.Count => array[i],
                _ => null,
            };
            if (token is null)
            {
                return null;
            }
        }

        return token;
    }

    private static string? Text(object? value) => value switch
    {
        null => null,
        JToken token => token.ToString(Formatting.None),
        _ => JsonConvert.SerializeObject(value),
    };

    private static bool SameNumber(string? from, string? value) =>
        from is not null && value is not null && Parse(from) is JValue { Type: JTokenType.Integer or JTokenType.Float } a
        && Parse(value) is JValue { Type: JTokenType.Integer or JTokenType.Float } b && a.CompareTo(b) == 0;

    /// <summary>
    /// The library's JSON Patch formatter, keeping each operation's key path as separate keys (the formatter joins
    /// them unescaped) and the previous value the delta holds for a remove or replace (the formatter drops it).
    /// </summary>
    private sealed class PointerFormatter : JsonDeltaFormatter
    {
        private readonly Dictionary<Operation, string[]> segments = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Operation, JToken> previous = new(ReferenceEqualityComparer.Instance);

        public string[] Segments(Operation operation) => segments[operation];

        public JToken? Previous(Operation operation) => previous.GetValueOrDefault(operation);

        protected override void Format(DeltaType type, JsonFormatContext context, JToken delta, JToken leftValue, string key, string leftKey, MoveDestination movedFrom)
        {
            var before = context.Operations.Count;
            base.Format(type, context, delta, leftValue, key, leftKey, movedFrom);
            if (type == DeltaType.Node)
            {
                return; // its children's operations, each recorded by its own call
            }

            for (var i = before; i < context.Operations.Count; i++)
            {
                var operation = context.Operations[i];
                segments[operation] = [.. context.Path];
                if (type is DeltaType.Deleted or DeltaType.Modified && delta is JArray { Count: > 0 } values)
                {
                    previous[operation] = values[0];
                }
            }
        }
    }

    /// <summary>jsonb's order: array indexes as numbers, object keys by length and then by bytes; a parent before its children.</summary>
    private sealed class DocumentOrder : IComparer<string[]>
    {
        public static readonly DocumentOrder Instance = new();

        public int Compare(string[]? x, string[]? y)
        {
            ArgumentNullException.ThrowIfNull(x);
            ArgumentNullException.ThrowIfNull(y);
            for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
            {
                var order = CompareSegment(x[i], y[i]);
                if (order != 0)
                {
                    return order;
                }
            }

            return x.Length.CompareTo(y.Length);
        }

        private static int CompareSegment(string a, string b)
        {
            if (int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
                && int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var j))
            {
                return i.CompareTo(j);
            }

            var lengths = System.Text.Encoding.UTF8.GetByteCount(a).CompareTo(System.Text.Encoding.UTF8.GetByteCount(b));
            return lengths != 0 ? lengths : string.CompareOrdinal(a, b);
        }
    }
}
