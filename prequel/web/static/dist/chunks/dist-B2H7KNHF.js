import{a,b,c,d}from"./chunk-NHX5DTTI.js";import"./chunk-WVXT3OWN.js";import"./chunk-76G5KVJT.js";export{d as css,b as cssCompletionSource,c as cssLanguage,a as defineCSSCompletionSource};
