using System.Text.Json.Serialization;
using CrewPlatform.ResponseStore.Changes;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// <c>GET /api/crew-responses/{id}/changes</c>: how an answer differs from the user's previous answer on the same
/// endpoint (<c>previousId</c>; null for the first, whose <c>changed</c> is null and whose lists are empty).
/// <c>summary</c> and <c>changes</c> are null only when the previous answer has been deleted since (e.g. by retention)
/// and the answer differed from it.
/// </summary>
public sealed record AnswerChangesItem(int Id, int? PreviousId, bool? Changed, AnswerChangeCounts? Summary, IReadOnlyList<AnswerChangeItem>? Changes)
{
    public static AnswerChangesItem From(int id, int? previousId, bool? changed, string answer, string? previousAnswer)
    {
        if (changed is true && previousAnswer is null)
        {
            return new AnswerChangesItem(id, previousId, changed, null, null);
        }

        var changes = changed is true ? AnswerDiff.Compare(previousAnswer!, answer) : [];
        var summary = AnswerDiff.Summarize(changes);
        return new AnswerChangesItem(
            id, previousId, changed, new AnswerChangeCounts(summary.Added, summary.Removed, summary.Modified),
            changes.Select(c => new AnswerChangeItem(c.Op, c.Path, c.From, c.Value)).ToList());
    }
}

/// <summary>How many values were added, removed and modified.</summary>
public sealed record AnswerChangeCounts(int Added, int Removed, int Modified);

/// <summary>
/// One difference: <c>op</c> is <c>add</c>, <c>remove</c> or <c>replace</c>; <c>path</c> an RFC 6901 pointer (a remove's
/// into the previous answer, an add's and a replace's into this one); <c>from</c> the previous value (remove, replace)
/// and <c>value</c> the new one (add, replace), as JSON.
/// </summary>
public sealed record AnswerChangeItem(
    string Op,
    string Path,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonConverter(typeof(RawJsonConverter))] string? From,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonConverter(typeof(RawJsonConverter))] string? Value);
