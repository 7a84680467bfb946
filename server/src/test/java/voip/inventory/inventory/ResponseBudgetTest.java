package voip.inventory.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseBudgetTest {
  private final List<String> sent = new ArrayList<>();

  private Runnable sending(String name) {
    return () -> sent.add(name);
  }

  @Test
  void responsesThatFitAreSentAtOnce() {
    ResponseBudget budget = new ResponseBudget(100);

    assertThat(budget.lease(40).start(sending("a"))).isTrue();
    assertThat(budget.lease(60).start(sending("b"))).isTrue();

    assertThat(sent).containsExactly("a", "b");
    assertThat(budget.inFlight()).isEqualTo(100);
  }

  @Test
  void aResponseThatDoesNotFitWaitsUntilAnEarlierOneEnds() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease first = budget.lease(70);
    first.start(sending("first"));

    assertThat(budget.lease(50).start(sending("second"))).isFalse();
    assertThat(sent).containsExactly("first");

    first.release();
    assertThat(sent).containsExactly("first", "second");
    assertThat(budget.inFlight()).isEqualTo(50);
  }

  @Test
  void waitingResponsesGoInTheOrderTheyCameEvenWhenALaterOneWouldFit() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease first = budget.lease(70);
    first.start(sending("first"));
    budget.lease(80).start(sending("big"));

    assertThat(budget.lease(10).start(sending("small"))).isFalse();

    first.release();
    assertThat(sent).containsExactly("first", "big", "small");
  }

  @Test
  void aResponseLargerThanTheBudgetIsSentAlone() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease huge = budget.lease(500);

    assertThat(huge.start(sending("huge"))).isTrue();
    assertThat(budget.lease(1).start(sending("tiny"))).isFalse();

    huge.release();
    assertThat(sent).containsExactly("huge", "tiny");
  }

  @Test
  void aCallerThatGivesUpWhileWaitingIsNeverSentAndTakesNothing() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease first = budget.lease(100);
    first.start(sending("first"));
    ResponseBudget.Lease gaveUp = budget.lease(100);
    gaveUp.start(sending("gave up"));
    budget.lease(100).start(sending("third"));

    gaveUp.release();
    assertThat(budget.waiting()).isEqualTo(1);
    first.release();

    assertThat(sent).containsExactly("first", "third");
    assertThat(budget.inFlight()).isEqualTo(100);
    assertThat(budget.waiting()).isZero();
  }

  @Test
  void aCancelWhileTheResponseIsBeingWrittenTakesEffectOnceTheWritingIsDone() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease writing = budget.lease(100);
    ResponseBudget.Lease next = budget.lease(100);
    List<String> seenWhileWriting = new ArrayList<>();
    Runnable cancelledMidway = () -> {
      next.start(sending("next"));
      writing.release();
      seenWhileWriting.addAll(sent);
      seenWhileWriting.add("in flight " + budget.inFlight());
    };

    writing.start(cancelledMidway);

    assertThat(seenWhileWriting).containsExactly("in flight 100");
    assertThat(sent).containsExactly("next");
    assertThat(budget.inFlight()).isEqualTo(100);
  }

  @Test
  void releasingTwiceGivesTheBytesBackOnce() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease first = budget.lease(60);
    first.start(sending("first"));
    budget.lease(40).start(sending("second"));

    first.release();
    first.release();

    assertThat(budget.inFlight()).isEqualTo(40);
  }

  @Test
  void aLeaseReleasedBeforeItStartsNeverSends() {
    ResponseBudget budget = new ResponseBudget(100);
    ResponseBudget.Lease cancelled = budget.lease(10);
    cancelled.release();

    assertThat(cancelled.start(sending("late"))).isFalse();
    assertThat(sent).isEmpty();
    assertThat(budget.inFlight()).isZero();
  }

  @Test
  void theDefaultIsHalfTheJvmsDirectMemoryLimit() {
    assertThat(ResponseBudget.halfOfDirectMemory().capacity())
        .isEqualTo(ResponseBudget.maxDirectMemory() / 2)
        .isPositive();
  }
}
