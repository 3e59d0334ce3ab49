</main>
<footer class="foot">agenthost<?cs if:User.Name ?> · signed in as <?cs var:User.Name ?><?cs /if ?></footer>
</body>
</html>
