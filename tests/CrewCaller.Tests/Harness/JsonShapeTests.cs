using System.Text;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>The crew answer's check on its bytes gives the verdict the platform's check on a string gives.</summary>
public sealed class JsonShapeTests
{
    [Theory]
    [InlineData("""{"Questions":[{"Question 1":"Why?"}]}""", true)]
    [InlineData("""  [1, 2, {"a": null}]  """, true)]
    [InlineData("{}", true)]
    [InlineData("\"just a JSON string\"", false)]
    [InlineData("42", false)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData("{\"Questions\": [", false)]
    [InlineData("{} {}", false)]
    [InlineData("{} x", false)]
    [InlineData("{\"a\":1,}", false)]
    [InlineData("{\"a\":1} // comment", false)]
    [InlineData("Agent stopped due to iteration limit or time limit.", false)]
    public void Bytes_are_an_object_or_array_exactly_when_the_string_is(string text, bool objectOrArray)
    {
        Assert.Equal(objectOrArray, JsonShape.IsObjectOrArray(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(objectOrArray, JsonShape.Classify(text) == JsonRoot.ObjectOrArray);
    }

    [Fact]
    public void Nesting_deeper_than_the_readers_limit_is_no_answer_either_way()
    {
        var deep = new string('[', 65) + new string(']', 65);

        Assert.False(JsonShape.IsObjectOrArray(Encoding.UTF8.GetBytes(deep)));
        Assert.Equal(JsonRoot.Invalid, JsonShape.Classify(deep));
    }
}
