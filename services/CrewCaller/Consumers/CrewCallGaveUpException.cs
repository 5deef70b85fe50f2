namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Thrown after the last attempt so that MassTransit moves the command to <c>run-crew-for-user_error</c>, where an
/// operator can replay it. <see cref="CrewCallFailed"/> has been published already.
/// </summary>
public abstract class CrewCallGaveUpException(string message) : Exception(message);

/// <summary>The crew API kept failing the way an unavailable service does; these trip the endpoint's kill switch.</summary>
public sealed class CrewApiUnavailableException(string message) : CrewCallGaveUpException(message);

/// <summary>The crew API refused this one request (4xx, non-JSON, too large): no sign the API is down, so it does not trip the kill switch.</summary>
public sealed class CrewCallRejectedException(string message) : CrewCallGaveUpException(message);
