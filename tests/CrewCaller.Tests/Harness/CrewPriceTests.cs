using CrewPlatform.CrewCaller.CrewApi;

namespace CrewPlatform.CrewCaller.Tests.Harness;

public sealed class CrewPriceTests
{
    [Theory]
    [InlineData("/usage/total_cost", """{"usage":{"total_cost":0.0123}}""", "0.0123")]
    [InlineData("/usage/total_cost", """{"usage":{"total_cost":"0.5"}}""", "0.25")]
    [InlineData("/usage/total_cost", """{"usage":{}}""", "0.25")]
    [InlineData("/a~1b/m~0n", """{"a/b":{"m~n":2}}""", "2")]
    [InlineData("/runs/1/cost", """{"runs":[{"cost":1},{"cost":3.5}]}""", "3.5")]
    [InlineData("", """[1]""", "0.25")]
    [InlineData(null, """{"cost":9}""", "0.25")]
    public void An_answer_costs_the_number_at_the_pointer_else_the_price_per_call(string? pointer, string answer, string expected)
    {
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), new CrewPrice(0.25m, pointer).OfAnswer(answer));
    }

    [Fact]
    public void Without_a_price_an_answer_without_its_figure_and_a_failure_cost_nothing_known()
    {
        var price = new CrewPrice(null, "/cost");

        Assert.Equal((1.5m, (decimal?)null, (decimal?)null), (price.OfAnswer("""{"cost":1.5}"""), price.OfAnswer("{}"), price.OfFailure(3)));
        Assert.Equal(0.75m, new CrewPrice(0.25m, null).OfFailure(3));
    }
}
