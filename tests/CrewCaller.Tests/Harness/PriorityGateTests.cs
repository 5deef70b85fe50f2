using CrewPlatform.CrewCaller.CrewApi;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>An endpoint's concurrency gate: its capacity, high before normal, and a cancelled waiter gives up its turn.</summary>
public sealed class PriorityGateTests
{
    [Fact]
    public async Task A_freed_slot_goes_to_a_waiting_high_priority_user_before_normal_ones_that_waited_longer()
    {
        var gate = new PriorityGate(1);
        var held = await gate.EnterAsync(isHigh: false, CancellationToken.None);
        var normal = gate.EnterAsync(isHigh: false, CancellationToken.None);
        var high = gate.EnterAsync(isHigh: true, CancellationToken.None);
        Assert.Equal(2, gate.Waiting);

        held.Dispose();
        var first = await high.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.False(normal.IsCompleted);
        first.Dispose();
        (await normal.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task At_most_capacity_slots_are_held_and_a_cancelled_waiter_leaves_the_line()
    {
        var gate = new PriorityGate(2);
        var a = await gate.EnterAsync(isHigh: false, CancellationToken.None);
        var b = await gate.EnterAsync(isHigh: true, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(isHigh: true, cancel.Token);
        var waiting = gate.EnterAsync(isHigh: false, CancellationToken.None);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        a.Dispose();

        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        b.Dispose();
        b.Dispose();
        Assert.Equal(0, gate.Waiting);
    }
}
