using System.Text.Json;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// An endpoint's price: <paramref name="CostPerCall"/> per attempt that got an HTTP answer, and where the answer states
/// its own cost (<paramref name="CostPointer"/>, an RFC 6901 JSON pointer such as <c>/usage/total_cost</c>).
/// </summary>
public sealed record CrewPrice(decimal? CostPerCall, string? CostPointer)
{
    /// <summary>An answer's cost: the number at the pointer, else the price per call, else null (unknown).</summary>
    public decimal? OfAnswer(string responseJson) => Stated(responseJson) ?? CostPerCall;

    /// <summary>A failed call's cost: the price per attempt that got an HTTP answer; null when the endpoint is unpriced.</summary>
    public decimal? OfFailure(int answeredAttempts) => CostPerCall * answeredAttempts;

    private decimal? Stated(string responseJson)
    {
        if (CostPointer is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(responseJson);
        var node = document.RootElement;
        foreach (var token in CostPointer.Split('/').Skip(1).Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)))
        {
            if (node.ValueKind == JsonValueKind.Object && node.TryGetProperty(token, out var child))
            {
                node = child;
            }
            else if (node.ValueKind == JsonValueKind.Array && int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
                     && index < node.GetArrayLength())
            {
                node = node[index];
            }
            else
            {
                return null;
            }
        }

        return node.ValueKind == JsonValueKind.Number && node.TryGetDecimal(out var cost) ? cost : null;
    }
}
