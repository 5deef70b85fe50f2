using System.Net;
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
}
