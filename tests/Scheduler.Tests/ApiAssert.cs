using System.Net;
using System.Text;
using System.Text.Json;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Assertions on the REST contract's envelope, shared by the API test classes.</summary>
public static class ApiAssert
{
    /// <summary>The failure envelope <c>{"success":false,"error":...}</c> with this status and message.</summary>
    public static void Error(HttpStatusCode expectedStatus, string expectedError, (HttpStatusCode Status, JsonElement Body, HttpResponseMessage _) actual)
    {
        Assert.Equal(expectedStatus, actual.Status);
        Assert.False(actual.Body.GetProperty("success").GetBoolean());
        Assert.Equal(expectedError, actual.Body.GetProperty("error").GetString());
    }

    /// <summary>Sends <paramref name="json"/> (when given) and returns the status and the parsed envelope.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendJsonAsync(
        this HttpClient client, HttpMethod method, string url, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone(), response);
    }
}
