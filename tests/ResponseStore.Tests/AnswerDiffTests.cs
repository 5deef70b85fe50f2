using CrewPlatform.ResponseStore.Changes;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>The differences between two answers, as the changes endpoint and the event's summary give them.</summary>
public sealed class AnswerDiffTests
{
    private static List<string> Describe(string previous, string current) =>
        AnswerDiff.Compare(previous, current).Select(c => $"{c.Op} {c.Path} {c.From ?? "-"} {c.Value ?? "-"}").ToList();

    [Fact]
    public void Keys_with_a_slash_or_a_tilde_are_escaped_as_RFC_6901_says() =>
        Assert.Equal(["replace /a~1b/c~0d 1 2"], Describe("""{"a/b":{"c~d":1}}""", """{"a/b":{"c~d":2}}"""));

    [Fact]
    public void An_answer_that_changes_its_root_kind_is_one_replace_of_the_whole_answer() =>
        Assert.Equal(["""replace  [1] {"a":1}"""], Describe("[1]", """{"a":1}"""));

    [Fact]
    public void Numbers_compare_by_value_as_jsonb_does_and_strings_stay_as_written()
    {
        Assert.Empty(AnswerDiff.Compare("""{"a":1.0,"b":[1e2]}""", """{"a":1,"b":[100]}"""));
        Assert.Equal(["""replace /d "2026-12-04T10:00:00Z" "2026-12-04T10:00:00+00:00" """.TrimEnd()],
            Describe("""{"d":"2026-12-04T10:00:00Z"}""", """{"d":"2026-12-04T10:00:00+00:00"}"""));
    }

    [Fact]
    public void An_inserted_element_is_an_add_at_its_index_and_not_a_change_of_every_later_one() =>
        Assert.Equal(["""add /Answers/1 - "new" """.TrimEnd()], Describe("""{"Answers":["a","b","c"]}""", """{"Answers":["a","new","b","c"]}"""));

    [Fact]
    public void Nulls_and_empty_containers_are_values_like_any_other() =>
        Assert.Equal(["replace /a null {}", "add /b - null", "remove /c [] -"], Describe("""{"a":null,"c":[]}""", """{"a":{},"b":null}"""));

    [Fact]
    public void The_summary_counts_every_difference_and_lists_the_first_20_pointers()
    {
        var previous = "[" + string.Join(",", Enumerable.Range(0, 30).Select(i => $$"""{"n":{{i}}}""")) + "]";
        var current = "[" + string.Join(",", Enumerable.Range(0, 30).Select(i => $$"""{"n":{{i + 1}}}""")) + ",1]";

        var summary = AnswerDiff.Summarize(AnswerDiff.Compare(previous, current));

        Assert.Equal((1, 0, 30), (summary.Added, summary.Removed, summary.Modified));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"/{i}/n"), summary.Paths);
    }

    [Fact]
    public void An_answer_with_a_very_long_array_has_its_arrays_compared_whole()
    {
        var previous = "[" + string.Join(",", Enumerable.Range(0, AnswerDiff.MaxElementwiseArray + 1)) + "]";
        var current = """{"list":""" + previous.Replace("[0,", "[-1,", StringComparison.Ordinal) + "}";

        Assert.Equal(["replace /list"], AnswerDiff.Compare("""{"list":""" + previous + "}", current).Select(c => $"{c.Op} {c.Path}"));
    }

    [Fact]
    public void An_answer_nested_deeper_than_the_limit_is_compared_as_a_whole()
    {
        var deep = new string('[', AnswerDiff.MaxDepth + 1) + "1" + new string(']', AnswerDiff.MaxDepth + 1);

        var change = Assert.Single(AnswerDiff.Compare(deep, deep.Replace("1", "2", StringComparison.Ordinal)));

        Assert.Equal(("replace", ""), (change.Op, change.Path));
    }
}
