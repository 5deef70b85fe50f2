using System.Net;
using System.Text.Json;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>Assertions on the contract's error envelope (<c>{"success":false,"error":...}</c>).</summary>
public static class EnvelopeAssert
{
    /// <summary>The response has <paramref name="status"/> and the envelope's error is exactly <paramref name="error"/>.</summary>
    public static async Task ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        using var body = JsonDocument.Parse(text);
        Assert.False(body.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal(error, body.RootElement.GetProperty("error").GetString());
    }
}
